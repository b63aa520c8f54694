package controllers

import (
	"context"
	"fmt"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// oauthToken obtains a token for software without a token the operator can
// mint (GoToSocial).
func (s *FederationSync) oauthToken(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL string) (string, error) {
	return "", fmt.Errorf("%s: obtaining an admin token by OAuth is not supported yet", profile.ModerationDriver)
}
